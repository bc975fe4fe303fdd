"""A REST API over a DynamoDB table, in the shape of AWS's API Gateway + Lambda + DynamoDB
test samples: `GET /orders/{id}` reads an order, `PUT /orders/{id}` validates and stores one.

The table name comes from the environment and the client is made once, at init, as such
functions do to reuse connections across invocations.
"""

import json
import os
from decimal import Decimal

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


def _response(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, default=lambda value: int(value) if isinstance(value, Decimal)
                           else str(value)),
    }


def _validated(body):
    try:
        order = json.loads(body or "")
    except ValueError:
        return None, "body must be JSON"
    if not isinstance(order, dict):
        return None, "body must be a JSON object"
    if not isinstance(order.get("sku"), str) or not order["sku"]:
        return None, "sku must be a non-empty string"
    quantity = order.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        return None, "quantity must be a positive whole number"
    return {"sku": order["sku"], "quantity": quantity}, None


def handler(event, context):
    order_id = (event.get("pathParameters") or {}).get("id")
    if not order_id:
        return _response(400, {"message": "missing order id"})
    method = event["httpMethod"]
    if method == "GET":
        item = TABLE.get_item(Key={"id": order_id}).get("Item")
        if item is None:
            return _response(404, {"message": f"order {order_id} not found"})
        return _response(200, item)
    if method == "PUT":
        order, problem = _validated(event.get("body"))
        if problem:
            return _response(400, {"message": problem})
        TABLE.put_item(Item={"id": order_id, **order})
        return _response(201, {"id": order_id, **order})
    return _response(405, {"message": f"method {method} not allowed"})
