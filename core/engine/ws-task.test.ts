import { expect } from 'chai';
import { DagExecutor } from './executor.ts';
import type { TaskRequest, TaskResponse } from './task-http.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { reply, ScriptedHttp } from './testdata/scripted-http.ts';
import type { TaskWebSocketClient } from './ws-task.ts';

/**
 * A WebSocket upstream that answers each exchange with a script: `messages` after the open (or a
 * handshake refusal), offered one by one to the engine's completion rule.
 */
class ScriptedWebSocket implements TaskWebSocketClient {
  readonly requests: TaskRequest[] = [];
  constructor(
    private readonly script: (request: TaskRequest, call: number) => string[] | TaskResponse | 'hang',
  ) {}

  async exchange(request: TaskRequest, accept: (text: string) => boolean): Promise<TaskResponse> {
    const call = this.requests.length;
    this.requests.push(request);
    const answer = this.script(request, call);
    if (answer === 'hang' || Array.isArray(answer)) {
      for (const text of answer === 'hang' ? [] : answer) {
        if (accept(text)) return { status: 101, headers: {}, body: Buffer.from(text) };
      }
      return new Promise((_resolve, reject) =>
        request.signal.once('abort', () => reject(request.signal.reason as Error)),
      );
    }
    return answer;
  }

  async close(): Promise<void> {}
}

const quotes = (websocket: string, extra = '') => `kind: WorkflowTask
metadata: {name: quotes}
spec:
  inputSchema: {type: object, properties: {symbol: {type: string}}}
  http: {method: GET, url: "ws://quotes.test/stream", headers: {Authorization: "Bearer {{secrets.token}}"}}
  secrets: [{name: token, secretKeyRef: {name: api, key: token}}]
  websocket: ${websocket}
${extra}
---
kind: Workflow
spec:
  inputSchema: {type: object, properties: {symbol: {type: string}}}
  tasks:
  - {id: quote, taskRef: {name: quotes}, input: {symbol: "{{input.symbol}}"}}
`;

const SECRET = 'ws-s3cr3t-token-value';
const secrets = { resolve: () => SECRET };

describe('WebSocket tasks', () => {
  it('sends the templated message once open and completes with the first message by default', async () => {
    const websocket = new ScriptedWebSocket(() => ['{"price":10}', '{"price":11}']);
    const executor = new DagExecutor({ http: new ScriptedHttp(), websocket });
    const status = await executor.execute(
      compileFixture(quotes('{message: {subscribe: "{{input.symbol}}"}}')),
      { symbol: 'ACME' },
      { secrets },
    );
    expect(status.phase).to.equal('Succeeded');
    expect(status.tasks?.[0]?.output).to.deep.equal({ price: 10 });
    expect(status.tasks?.[0]?.httpStatus).to.equal(101);
    const request = websocket.requests[0] as TaskRequest;
    expect(request.url).to.equal('ws://quotes.test/stream');
    expect(JSON.parse(request.body as string)).to.deep.equal({ subscribe: 'ACME' });
    expect(request.headers.Authorization).to.equal(`Bearer ${SECRET}`);
    expect(request.secretHeaders?.has('authorization')).to.equal(true);
  });

  it('completes with the Nth message, or the first one the CEL match accepts (text messages as strings)', async () => {
    const messages = () => [
      'hello',
      '{"type":"ack"}',
      '{"type":"quote","price":12}',
      '{"type":"quote","price":13}',
    ];
    const third = await new DagExecutor({
      http: new ScriptedHttp(),
      websocket: new ScriptedWebSocket(messages),
    }).execute(compileFixture(quotes('{complete: {nth: 3}}')), {}, { secrets });
    expect(third.tasks?.[0]?.output).to.deep.equal({ type: 'quote', price: 12 });
    const matched = await new DagExecutor({
      http: new ScriptedHttp(),
      websocket: new ScriptedWebSocket(messages),
    }).execute(
      compileFixture(quotes(`{complete: {match: 'message.type == "quote" && message.price > 12'}}`)),
      {},
      { secrets },
    );
    expect(matched.tasks?.[0]?.output).to.deep.equal({ type: 'quote', price: 13 });
    const text = await new DagExecutor({
      http: new ScriptedHttp(),
      websocket: new ScriptedWebSocket(messages),
    }).execute(compileFixture(quotes(`{complete: {match: 'message == "hello"'}}`)), {}, { secrets });
    expect(text.tasks?.[0]?.output).to.equal('hello');
  });

  it('redacts secrets the upstream echoes, as for HTTP', async () => {
    const websocket = new ScriptedWebSocket((request) => [
      JSON.stringify({ echo: request.headers.Authorization }),
    ]);
    const status = await new DagExecutor({ http: new ScriptedHttp(), websocket }).execute(
      compileFixture(quotes('{}')),
      {},
      { secrets },
    );
    expect(status.phase).to.equal('Succeeded');
    expect(JSON.stringify(status)).to.not.contain(SECRET);
  });

  it('treats a refused handshake like an HTTP answer: HTTPError, retried as its class allows', async () => {
    const websocket = new ScriptedWebSocket((_request, call) =>
      call === 0 ? reply(503, { error: 'busy' }) : ['{"ok":true}'],
    );
    const status = await new DagExecutor({ http: new ScriptedHttp(), websocket }).execute(
      compileFixture(quotes('{}', '  retry: {maxAttempts: 2, backoff: {initial: 1ms, max: 1ms}}')),
      {},
      { secrets },
    );
    expect(status.phase).to.equal('Succeeded');
    expect(status.tasks?.[0]?.attemptLog?.map((a) => a.httpStatus)).to.deep.equal([503, 101]);
  });

  it('times out when no completing message arrives within the task timeout', async () => {
    const websocket = new ScriptedWebSocket(() => 'hang');
    const status = await new DagExecutor({ http: new ScriptedHttp(), websocket }).execute(
      compileFixture(quotes('{}', '  timeout: 30ms')),
      {},
      { secrets },
    );
    expect(status.tasks?.[0]?.error?.reason).to.equal('Timeout');
  });

  it('fails the step when the match cannot be evaluated, and when the executor has no WebSocket client', async () => {
    const websocket = new ScriptedWebSocket(() => ['{"price":"x"}']);
    const bad = await new DagExecutor({ http: new ScriptedHttp(), websocket }).execute(
      compileFixture(quotes(`{complete: {match: 'message.price'}}`)),
      {},
      { secrets },
    );
    expect(bad.tasks?.[0]?.error?.reason).to.equal('InvalidWhen');
    const none = await new DagExecutor({ http: new ScriptedHttp() }).execute(
      compileFixture(quotes('{}')),
      {},
      { secrets },
    );
    expect(none.tasks?.[0]?.error?.reason).to.equal('ConnectError');
    expect(none.tasks?.[0]?.error?.message).to.contain('no WebSocket client');
  });
});
