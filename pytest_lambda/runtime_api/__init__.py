"""The host side of Lambda's Runtime, Extensions, Logs and Telemetry APIs: one listening port
per execution environment, two routers over one shared lifecycle.
"""
