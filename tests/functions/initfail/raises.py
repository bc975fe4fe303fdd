print("init output line")
raise ValueError("boom at init")

def handler(event, context):
    return 1
