from pathlib import Path

CODE = Path(__file__).parent.parent


def test_hello(lambda_function):
    fn = lambda_function(
        "app.handler",
        code=CODE,
        runtime="python3.13",
        memory_size=256,
        timeout=5,
        environment={"GREETING": "hi"},
    )
    result = fn.invoke({"name": "ada"})
    assert result.payload == {"message": "hi ada"}
    assert result.function_error is None
    assert result.cold_start
