// CommonJS handlers for the Node.js runtime tests.
"use strict";

function describe(event, context) {
  return {
    received: event,
    style: "commonjs",
    node: process.versions.node.split(".")[0],
    version: process.version,
    executionEnv: process.env.AWS_EXECUTION_ENV,
    nodePath: process.env.NODE_PATH,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    remainingPositive: context.getRemainingTimeInMillis() > 0,
    uid: process.getuid(),
    cwd: process.cwd(),
  };
}

exports.handler = async (event, context) => {
  console.log("processing", JSON.stringify(event));
  return describe(event, context);
};

exports.fail = async () => {
  throw new Error("boom from commonjs");
};

exports.sleepy = async () => {
  await new Promise((resolve) => setTimeout(resolve, 30000));
  return "woke up";
};

// The callback style: no promise returned, the result handed to the callback.
exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { ...describe(event, context), style: "callback" }), 10);
};

exports.callbackError = (event, context, callback) => {
  callback(new TypeError("bad input from a callback"));
};

// Loads the module the event names through NODE_PATH (the layers' node_modules).
exports.layered = async (event) => {
  const found = require(event.module);
  return { value: found.value, file: require.resolve(event.module) };
};
