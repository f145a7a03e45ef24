#!/usr/bin/env node
// Starts the local-aws-sqs emulator with four behaviours corrected so that it acts like SQS
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
//  4. A ReceiveMessage looks for messages at once, and a waiting long poll is woken as soon as
//     a message becomes visible. The emulator scanned the queue only on a 10 ms interval whose
//     first tick came 10 ms after the call: every receive took at least 10 ms even with
//     messages waiting, and a message sent to an idle queue waited up to 10 ms (5 on average)
//     for the next scan — at each of the pipeline's two hops, a third of the local latency
//     budget (docs/performance.md: p50 ≤ 20 ms). SQS returns available messages at once. The 10 ms scan
//     stays for messages whose visibility timeout ends.
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
  {
    why: "a receive scans at once and can be woken (1/3)",
    // the long-poll scan loop of a receive: give the scan a name (g)
    from: "d=0,c;return n=setTimeout(()=>{clearInterval(c),o()},fr+t*1e3),n.unref(),c=setInterval(()=>{d++;",
    to: "d=0,c,g;return n=setTimeout(()=>{clearInterval(c),o()},fr+t*1e3),n.unref(),c=setInterval(g=()=>{d++;",
  },
  {
    why: "a receive scans at once and can be woken (2/3)",
    // after the loop is set up (and patch 2): register the scan as a waiter of the queue, scan
    // at once, unregister when the receive returns
    from: "r.length>0&&(clearInterval(c),clearTimeout(n),o())},10),c.unref(),yield a,r.map(y=>y.record)",
    to: "r.length>0&&(clearInterval(c),clearTimeout(n),o())},10),c.unref(),(this.__wake||(this.__wake=new Set)).add(g),g(),yield a,this.__wake.delete(g),r.map(y=>y.record)",
  },
  {
    why: "a receive scans at once and can be woken (3/3)",
    // a new message becomes visible (its delay ends): wake the queue's waiting receives, once
    // the timers of this turn have run, so that the messages of one SendMessageBatch are
    // received together as SQS would return them
    from: "setTimeout(()=>{i.delayed=!1,ie(this,ge)._--},r).unref()",
    to: "setTimeout(()=>{i.delayed=!1,ie(this,ge)._--,this.__wake&&!this.__woken&&(this.__woken=setImmediate(()=>{this.__woken=null,this.__wake.forEach(w=>w())}))},r).unref()",
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
