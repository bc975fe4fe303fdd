// A CommonJS handler that requires the AWS SDK for JavaScript v3 the runtime carries (or a copy
// the function or a layer brings), builds clients without calling AWS, and says which copy it got.
const { S3Client } = require("@aws-sdk/client-s3");
const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");

exports.handler = async (event) => {
  const s3 = new S3Client({});
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const region = typeof s3.config.region === "function" ? await s3.config.region() : s3.config.region;
  const where = {};
  for (const name of event.packages ?? []) {
    const file = require.resolve(`${name}/package.json`);
    where[name] = { file, version: require(file).version };
  }
  return {
    style: "commonjs",
    s3: s3.constructor.name,
    doc: typeof doc.send,
    region,
    marker: S3Client.marker ?? null,
    where,
  };
};
