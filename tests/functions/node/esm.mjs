// ES module handlers for the Node.js runtime tests.
export const handler = async (event, context) => ({
  received: event,
  style: "module",
  node: process.versions.node.split(".")[0],
  version: process.version,
  executionEnv: process.env.AWS_EXECUTION_ENV,
  requestId: context.awsRequestId,
});

export const fail = async () => {
  throw new Error("boom from a module");
};

export const sleepy = async () => {
  await new Promise((resolve) => setTimeout(resolve, 30000));
  return "woke up";
};
