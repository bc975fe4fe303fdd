"""Start the Python runtime interface client the way Lambda's Python base images do.

This file runs inside the execution environment (as `/var/runtime/bootstrap.py` in the runtime
images, or from the package on the process backend); it never runs in the test process. It puts
the task root and the layer directories on `sys.path` in Lambda's order, then hands over to the
real `awslambdaric`.
"""

import os
import site
import sys


def _python_dirs(opt: str) -> list:
    version = "python%d.%d" % sys.version_info[:2]
    return [
        "%s/python/lib/%s/site-packages" % (opt, version),
        "%s/python" % opt,
    ]


def main() -> None:
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    handler = os.environ.get("_HANDLER", "")
    runtime_dir = os.environ.get("LAMBDA_RUNTIME_DIR")
    # The process backend cannot mount the layers at /opt and names their tree instead.
    opt = os.environ.pop("_PYTEST_LAMBDA_OPT", "/opt")
    # The process backend runs an interpreter without site-packages (-S) and names the
    # directories that stand for /var/runtime (awslambdaric, boto3 and their dependencies), to
    # follow the code and layers.
    client = os.environ.pop("_PYTEST_LAMBDA_RIC", None)
    if client:
        # This file's directory is in the package on the host, not a runtime directory.
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        sys.path[0:0] = client.split(os.pathsep)
    if "PYTHONPATH" not in os.environ:
        for path in reversed(_python_dirs(opt)):
            if path not in sys.path:
                sys.path.insert(0, path)
        if runtime_dir:
            os.environ["PYTHONPATH"] = runtime_dir
    # Lambda's sys.path starts at the task root, then the runtime directory (this file's).
    sys.path.insert(0, task_root)
    site.addsitedir(task_root)
    for path in _python_dirs(opt):
        if os.path.isdir(path):
            site.addsitedir(path)

    from awslambdaric import __main__ as ric

    ric.main([task_root, handler])


if __name__ == "__main__":
    main()
