"""Files that run inside an execution environment, not in the test process."""
