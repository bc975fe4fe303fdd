import nonexistent_module_xyz

def handler(event, context):
    return 1
