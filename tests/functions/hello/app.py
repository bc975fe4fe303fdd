import os


def handler(event, context):
    return {"message": f"{os.environ.get('GREETING', 'hello')} {event.get('name', 'world')}"}
