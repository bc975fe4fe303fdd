// /var/runtime/index.mjs for the 3.x line of aws-lambda-ric: start the client on the handler
// Lambda names in _HANDLER, from the task root, as the 4.x line's index.mjs does by itself.
import { run } from "./dist/index.mjs";

await run(process.env.LAMBDA_TASK_ROOT, process.env._HANDLER);
