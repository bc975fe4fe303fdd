"""`invoke_handler`: a handler called in the test process with Lambda's contract, and the
`LambdaContext` it gets.
"""
