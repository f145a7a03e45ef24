#!/usr/bin/env node
// Starts the local-aws-sqs emulator with three behaviours corrected so that it acts like SQS
// where DealerAI's design relies on it. The package ships one minified bundle, so instead of
// a diff of that bundle this launcher loads it with small, exact text substitutions and
// refuses to start if any does not match exactly once (e.g. after an upgrade).
//
//  1. ChangeMessageVisibility must not increment ApproximateReceiveCount. In SQS only a
//     receive counts; the emulator counted a visibility change as a receive, so a message
//     with redrive maxReceiveCount 4 reached the DLQ after two real receives when the
//     delivery handler set a backoff.
//  2. A long-poll ReceiveMessage returns as soon as at least one message is available. The
//     emulator waited the whole WaitTimeSeconds unless MaxNumberOfMessages were available.
//  3. ReceiveMessage honours MessageSystemAttributeNames (what current SDKs send) as well as
//     the deprecated AttributeNames; the emulator knew only the latter and returned no
//     ApproximateReceiveCount or SentTimestamp to a current SDK.
//
// Usage: node sqs-emulator.cjs [--port 9324] [--host 127.0.0.1] [--region us-east-1]
"use strict";
const fs = require("fs");
const path = require("path");
const Module = require("module");

const patches = [
  {
    why: "ChangeMessageVisibility does not count as a receive",
    // the private helper (record, visibilityTimeout, isVisibilityChange) that hides a message
    from: "let n=Number(t.record.attributes.ApproximateReceiveCount)+1;t.record.attributes.ApproximateReceiveCount=String(n),n==1&&",
    to: "let n=Number(t.record.attributes.ApproximateReceiveCount)+(i?0:1);t.record.attributes.ApproximateReceiveCount=String(n),!i&&n==1&&",
  },
  {
    why: "long polling returns as soon as a message is available",
    // end of the 10 ms scan loop of a long poll: resolve when something was collected
    from: "if(r.length==e){clearInterval(c),clearTimeout(n),o();break}}},10),c.unref()",
    to: "if(r.length==e){clearInterval(c),clearTimeout(n),o();break}}r.length>0&&(clearInterval(c),clearTimeout(n),o())},10),c.unref()",
  },
  {
    why: "ReceiveMessage reads MessageSystemAttributeNames",
    // request normalisation of ReceiveMessage, before its parameters are validated
    from: 'this.body=this.reqBody,"MaxNumberOfMessages"in this.body',
    to: 'this.reqBody.MessageSystemAttributeNames&&!this.reqBody.AttributeNames&&(this.reqBody.AttributeNames=this.reqBody.MessageSystemAttributeNames),this.body=this.reqBody,"MaxNumberOfMessages"in this.body',
  },
];

function loadPatchedEmulator() {
  const file = require.resolve("local-aws-sqs");
  let src = fs.readFileSync(file, "utf8");
  for (const p of patches) {
    const count = src.split(p.from).length - 1;
    if (count !== 1) {
      throw new Error(`local-aws-sqs patch "${p.why}" matched ${count} times (want 1); is the package version still 2.0.2?`);
    }
    src = src.replace(p.from, p.to);
  }
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  m._compile(src, file);
  return m.exports;
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main() {
  const { createSqsServer } = loadPatchedEmulator();
  const port = Number(arg("port", process.env.SQS_PORT || "9324"));
  const hostname = arg("host", "127.0.0.1");
  const region = arg("region", process.env.AWS_REGION || "us-east-1");
  const server = await createSqsServer({
    port,
    hostname,
    region,
    emulateQueueCreationLifecycle: false, // tests reuse queue names
    validateDlqDestination: true,
  });
  const addr = server.address();
  console.log(`local-aws-sqs (patched) listening on http://${hostname}:${addr.port}`);
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
