"""An SQS consumer with partial batch responses, in the shape of Powertools' batch examples.

Each message is an order; an order without a positive quantity is a poison message. Only the
failed messages are reported back (`batchItemFailures`), so SQS deletes the rest: the function's
event source mapping has `ReportBatchItemFailures` on.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

processor = BatchProcessor(event_type=EventType.SQS)
logger = Logger(service="orders")


def record_handler(record: SQSRecord) -> str:
    order = record.json_body
    if not isinstance(order.get("quantity"), int) or order["quantity"] <= 0:
        raise ValueError(f"order {order.get('id')!r} has no positive quantity")
    logger.info("order accepted", extra={"order_id": order["id"]})
    return order["id"]


@logger.inject_lambda_context
def handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
