// A response-streaming handler that fails after it has written part of its body.
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType("text/plain");
  responseStream.write("partial ");
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (event.fail) {
    throw new Error("failed mid-stream");
  }
  responseStream.write("body");
  responseStream.end();
});
