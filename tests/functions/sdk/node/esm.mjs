// An ES module handler that imports the AWS SDK for JavaScript v3 the runtime carries (or a
// copy the function or a layer brings), builds clients without calling AWS, and says which
// copy it got.
import { createRequire } from "node:module";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

const require = createRequire(import.meta.url);

export const handler = async (event) => {
  const s3 = new S3Client({});
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const region = typeof s3.config.region === "function" ? await s3.config.region() : s3.config.region;
  const where = {};
  for (const name of event.packages ?? []) {
    const file = require.resolve(`${name}/package.json`);
    where[name] = { file, version: require(file).version };
  }
  return {
    style: "esm",
    s3: s3.constructor.name,
    doc: typeof doc.send,
    region,
    marker: S3Client.marker ?? null,
    where,
  };
};
