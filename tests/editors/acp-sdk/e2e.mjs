// ACP e2e with the official TypeScript SDK's client (@agentclientprotocol/sdk 2.x,
// client().connectWith(ndJsonStream(...))): `planfirst acp` through plan -> approval -> a
// failing step shown in the client's terminal -> /retry -> cancel -> session/load in a fresh
// process (the whole conversation replayed) -> /continue to the end. Every message in both
// directions is validated against the JSON schema shipped in the SDK package (ajv).
// Run by tests/editors/run-acp-sdk-e2e.sh (copied next to its node_modules). Env: PY, WS,
// SCRIPT, SCRIPT_RESUME, SETTINGS, MCP_SERVER, LOG. Prints "N passed, M failed" last.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Readable, Writable } from "node:stream";
import Ajv2020 from "ajv/dist/2020.js";
import { client, methods, ndJsonStream, PROTOCOL_VERSION } from "@agentclientprotocol/sdk";

const env = process.env;
const TASK = "Add a --top N option to textkit count";
const schema = JSON.parse(
  readFileSync(new URL("./node_modules/@agentclientprotocol/sdk/schema/v1/schema.json", import.meta.url)),
);
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }); // uint32 etc.: Rust formats
ajv.addSchema(schema, "acp");
const envelope = ajv.compile(schema);
const def = (name) => {
  const v = ajv.getSchema(`acp#/$defs/${name}`);
  if (!v) throw new Error(`no $defs/${name} in the SDK's schema`);
  return v;
};
// params of requests and notifications, by method; results by the method they answer
const PARAMS = {
  initialize: "InitializeRequest",
  "session/new": "NewSessionRequest",
  "session/load": "LoadSessionRequest",
  "session/prompt": "PromptRequest",
  "session/cancel": "CancelNotification",
  "session/update": "SessionNotification",
  "session/request_permission": "RequestPermissionRequest",
  "fs/read_text_file": "ReadTextFileRequest",
  "fs/write_text_file": "WriteTextFileRequest",
  "terminal/create": "CreateTerminalRequest",
  "terminal/output": "TerminalOutputRequest",
  "terminal/wait_for_exit": "WaitForTerminalExitRequest",
  "terminal/kill": "KillTerminalRequest",
  "terminal/release": "ReleaseTerminalRequest",
};
const RESULTS = {
  initialize: "InitializeResponse",
  "session/new": "NewSessionResponse",
  "session/load": "LoadSessionResponse",
  "session/prompt": "PromptResponse",
  "session/request_permission": "RequestPermissionResponse",
  "fs/read_text_file": "ReadTextFileResponse",
  "fs/write_text_file": "WriteTextFileResponse",
  "terminal/create": "CreateTerminalResponse",
  "terminal/output": "TerminalOutputResponse",
  "terminal/wait_for_exit": "WaitForTerminalExitResponse",
  "terminal/kill": "KillTerminalResponse",
  "terminal/release": "ReleaseTerminalResponse",
};

let passed = 0;
const failures = [];
const check = (ok, what) => (ok ? passed++ : failures.push(what));
let validated = 0;
const violations = [];

function validator(direction, pending, answered, log) {
  // pending: id -> method of requests this direction's sender made; answered: the other side's
  return (msg) => {
    validated++;
    log.push({ direction, msg });
    const bad = (what, v) => violations.push(`${direction} ${what}: ${ajv.errorsText(v.errors)} in ${JSON.stringify(msg).slice(0, 300)}`);
    if (!envelope(msg)) bad("envelope", envelope);
    if (msg.method !== undefined) {
      if (msg.id !== undefined) pending.set(msg.id, msg.method);
      const name = PARAMS[msg.method];
      if (!name) violations.push(`${direction} unknown method ${msg.method}`);
      else if (!def(name)(msg.params)) bad(msg.method, def(name));
    } else if (msg.id !== undefined && "result" in msg) {
      const method = answered.get(msg.id);
      const name = RESULTS[method];
      if (name && !def(name)(msg.result ?? null)) bad(`result of ${method}`, def(name));
    }
  };
}

function tap(stream, onMessage) {
  return stream.pipeThrough(new TransformStream({ transform(m, c) { onMessage(m); c.enqueue(m); } }));
}

// ------------------------------------------------------------------ the editor (like Zed)

class Editor {
  constructor() {
    this.updates = []; // [sessionId, update]
    this.buffers = new Map();
    this.terminals = new Map();
    this.writes = [];
    this.onPermission = null;
  }
  app() {
    return client({ name: "planfirst-acp-sdk-e2e" })
      .onNotification(methods.client.session.update, ({ params }) => {
        this.updates.push([params.sessionId, params.update]);
      })
      .onRequest(methods.client.session.requestPermission, async ({ params }) => this.onPermission(params))
      .onRequest(methods.client.fs.readTextFile, ({ params }) => ({
        content: this.buffers.get(params.path) ?? readFileSync(params.path, "utf8"),
      }))
      .onRequest(methods.client.fs.writeTextFile, ({ params }) => {
        if (!params.path.startsWith(env.WS + "/")) throw new Error(`write outside the workspace: ${params.path}`);
        this.writes.push(params.path);
        this.buffers.set(params.path, params.content);
        return {};
      })
      .onRequest(methods.client.terminal.create, ({ params }) => {
        const environ = { ...process.env };
        for (const e of params.env ?? []) environ[e.name] = e.value;
        const child = spawn(params.command, params.args ?? [], { cwd: params.cwd, env: environ, stdio: ["ignore", "pipe", "pipe"] });
        const t = { child, out: "", exit: null, limit: params.outputByteLimit, command: [params.command, ...(params.args ?? [])] };
        t.done = new Promise((resolve) => child.on("close", (code, signal) => { t.exit = { exitCode: code, signal }; resolve(t.exit); }));
        child.stdout.on("data", (d) => (t.out += d));
        child.stderr.on("data", (d) => (t.out += d));
        const id = `term-${this.terminals.size + 1}`;
        this.terminals.set(id, t);
        return { terminalId: id };
      })
      .onRequest(methods.client.terminal.output, ({ params }) => {
        const t = this.terminals.get(params.terminalId);
        const cut = t.limit != null && t.out.length > t.limit;
        return { output: cut ? t.out.slice(-t.limit) : t.out, truncated: cut, ...(t.exit ? { exitStatus: t.exit } : {}) };
      })
      .onRequest(methods.client.terminal.waitForExit, async ({ params }) => this.terminals.get(params.terminalId).done)
      .onRequest(methods.client.terminal.kill, ({ params }) => {
        const t = this.terminals.get(params.terminalId);
        if (t.exit === null) t.child.kill("SIGKILL");
        return {};
      })
      .onRequest(methods.client.terminal.release, ({ params }) => {
        const t = this.terminals.get(params.terminalId);
        if (t.exit === null) t.child.kill("SIGKILL");
        t.released = true;
        return {};
      });
  }
  of(kind) {
    return this.updates.filter(([, u]) => u.sessionUpdate === kind).map(([, u]) => u);
  }
  text(kind = "agent_message_chunk") {
    return this.of(kind).map((u) => u.content?.text ?? "").join("");
  }
  toolCalls() {
    const calls = new Map();
    for (const [, u] of this.updates) {
      if (u.sessionUpdate !== "tool_call" && u.sessionUpdate !== "tool_call_update") continue;
      const c = calls.get(u.toolCallId) ?? { statuses: [], content: [] };
      for (const k of ["title", "kind"]) if (u[k] !== undefined) c[k] = u[k];
      if (u.content) c.content = u.content;
      if (u.status) c.statuses.push(u.status);
      calls.set(u.toolCallId, c);
    }
    return calls;
  }
}

async function run(editor, script, op) {
  // each agent process starts its own scripted model at the first turn of `script`
  const agent = spawn(env.PY, ["-I", "-m", "planfirst", "acp", "--settings", env.SETTINGS], {
    cwd: env.WS,
    env: { ...process.env, PLANFIRST_SCRIPT: script, PLANFIRST_LOG_FILE: env.LOG },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const raw = ndJsonStream(Writable.toWeb(agent.stdin), Readable.toWeb(agent.stdout));
  const mine = new Map();
  const theirs = new Map();
  const log = [];
  const stream = {
    readable: tap(raw.readable, validator("agent->client", theirs, mine, log)),
    writable: (() => {
      const ts = new TransformStream({ transform(m, c) { validator("client->agent", mine, theirs, log)(m); c.enqueue(m); } });
      ts.readable.pipeTo(raw.writable).catch(() => {});
      return ts.writable;
    })(),
  };
  const exited = new Promise((resolve) => agent.on("exit", resolve));
  try {
    return await editor.app().connectWith(stream, (ctx) => op(ctx, log));
  } finally {
    agent.stdin.end();
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 20000))]);
    if (code === "timeout") agent.kill("SIGKILL");
    check(code === 0, `the agent exited with ${code}`);
  }
}

const zed = { fs: { readTextFile: true, writeTextFile: true }, terminal: true };
const mcpServers = [{ name: "tickets", command: env.PY, args: [env.MCP_SERVER], env: [] }];
const editor = new Editor();
let sessionId;
let seenInA;
let saidInA;

// ------------------------------------------------------------------ process A
await run(editor, env.SCRIPT, async (ctx, log) => {
  const init = await ctx.request(methods.agent.initialize, { protocolVersion: PROTOCOL_VERSION, clientCapabilities: zed, clientInfo: { name: "zed", version: "0.200.0" } });
  check(init.agentCapabilities?.loadSession === true, "initialize: loadSession");
  const created = await ctx.request(methods.agent.session.new, { cwd: env.WS, mcpServers });
  sessionId = created.sessionId;
  const answerAt = log.findIndex((e) => e.direction === "agent->client" && e.msg.result?.sessionId === sessionId);
  const firstUpdate = log.findIndex((e) => e.msg.method === "session/update" && e.msg.params.sessionId === sessionId);
  check(answerAt >= 0 && (firstUpdate === -1 || firstUpdate > answerAt), "no session/update before the session/new response");

  let cancelled = false;
  editor.onPermission = async (p) => {
    const kind = p.toolCall.kind;
    if (kind === "think") return { outcome: { outcome: "selected", optionId: "approve" } };
    if (kind === "edit" && /step 2/.test(p.toolCall.title ?? "") && !cancelled) {
      cancelled = true; // the user cancels the turn while step 2's edit waits for an answer
      await ctx.notify(methods.agent.session.cancel, { sessionId });
      return { outcome: { outcome: "cancelled" } };
    }
    return { outcome: { outcome: "selected", optionId: kind === "edit" ? "apply" : "yes" } };
  };
  let res = await ctx.request(methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: TASK }] });
  check(res.stopReason === "end_turn", `the first prompt ended with ${res.stopReason}`);
  check(/Step 1 failed/.test(editor.text()), "step 1's failure was said");
  const failedCheck = [...editor.toolCalls().values()].find((c) => c.kind === "execute" && c.statuses.at(-1) === "failed");
  check(failedCheck?.content.some((c) => c.type === "terminal"), "the failing validation embeds the client terminal");
  check([...editor.terminals.values()].every((t) => t.released), "every terminal was released");
  res = await ctx.request(methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: "/retry 1" }] });
  check(res.stopReason === "cancelled", `the retry turn ended with ${res.stopReason}, not cancelled`);
  check(cancelled, "step 2's edit was asked about");
  seenInA = editor.toolCalls();
  saidInA = editor.text();
  const starts = editor.of("tool_call").map((u) => u.toolCallId);
  check(new Set(starts).size === starts.length, "tool call ids are unique");
});

// ------------------------------------------------------------------ process B: load, replay, finish
editor.updates = [];
await run(editor, env.SCRIPT_RESUME, async (ctx) => {
  await ctx.request(methods.agent.initialize, { protocolVersion: PROTOCOL_VERSION, clientCapabilities: zed, clientInfo: { name: "zed", version: "0.200.0" } });
  await ctx.request(methods.agent.session.load, { sessionId, cwd: env.WS, mcpServers });
  const replayed = editor.toolCalls();
  check(seenInA.size >= 6, `process A showed ${seenInA.size} tool calls`);
  for (const [id, c] of seenInA) {
    const last = c.statuses.at(-1);
    const want = last === "pending" || last === "in_progress" ? "failed" : last;
    check(replayed.get(id)?.statuses.at(-1) === want, `tool call ${id} replayed as ${replayed.get(id)?.statuses.at(-1)}, not ${want}`);
  }
  check(editor.text("user_message_chunk").includes(TASK) && editor.text("user_message_chunk").includes("/retry 1"), "both prompts replayed");
  check(editor.text().startsWith(saidInA), "the agent's messages replayed as they were");
  check(editor.of("plan").length > 0, "the current plan follows the replay");
  const replayIds = new Set(editor.of("tool_call").map((u) => u.toolCallId));
  editor.onPermission = async (p) => ({ outcome: { outcome: "selected", optionId: p.toolCall.kind === "edit" ? "apply" : "yes" } });
  const res = await ctx.request(methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: "/continue" }] });
  check(res.stopReason === "end_turn", `/continue ended with ${res.stopReason}`);
  const fresh = editor.of("tool_call").map((u) => u.toolCallId).filter((id) => !seenInA.has(id));
  check(fresh.length > 0 && fresh.every((id) => !replayIds.has(id) || !seenInA.has(id)), "new tool call ids after the load");
  check(/Plan “.*” done/.test(editor.text()), "the plan finished");
  const statuses = [...editor.toolCalls().values()].filter((c) => c.kind === "edit" && fresh.length).map((c) => c.statuses.join(">"));
  check(statuses.some((s) => s === "pending>in_progress>completed"), "an edit went pending -> in_progress -> completed");
});

check(violations.length === 0, `schema violations:\n  ${violations.slice(0, 10).join("\n  ")}`);
console.log(`acp-sdk-e2e: ${validated} messages validated against the SDK's schema.json, ${editor.terminals.size} client terminals`);
for (const f of failures) console.error(`acp-sdk-e2e: FAIL: ${f}`);
console.log(`${failures.length ? 0 : 1} passed, ${failures.length ? 1 : 0} failed`);
process.exit(failures.length ? 1 : 0);
