// Invokes another function through the JavaScript SDK v3, which finds the harness's Lambda API
// in AWS_ENDPOINT_URL_LAMBDA.
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";

const client = new LambdaClient({});

export const handler = async (event) => {
  const answer = await client.send(new InvokeCommand({
    FunctionName: event.target,
    Payload: new TextEncoder().encode(JSON.stringify(event.payload)),
  }));
  return {
    status: answer.StatusCode,
    executedVersion: answer.ExecutedVersion,
    payload: JSON.parse(new TextDecoder().decode(answer.Payload)),
  };
};
