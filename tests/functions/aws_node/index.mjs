// S3 and DynamoDB through the AWS SDK for JavaScript v3, with nothing in the code about where
// AWS is: the SDK reads AWS_ENDPOINT_URL, the region and the credentials from the environment.
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";

const s3 = new S3Client({});
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async (event) => {
  const got = await s3.send(new GetObjectCommand({ Bucket: event.bucket, Key: event.key }));
  const text = await got.Body.transformToString();
  await s3.send(new PutObjectCommand({
    Bucket: event.bucket, Key: `${event.key}.upper`, Body: text.toUpperCase(),
  }));
  await documents.send(new PutCommand({
    TableName: event.table, Item: { pk: event.key, length: text.length, tags: ["node", "v3"] },
  }));
  const { Item } = await documents.send(new GetCommand({
    TableName: event.table, Key: { pk: event.key },
  }));
  return { item: Item, endpoint: process.env.AWS_ENDPOINT_URL };
};
