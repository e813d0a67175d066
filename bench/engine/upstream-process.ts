/** Starts the mock upstream (bench/engine/upstream.ts) in its own process, so its serving cost is never charged to what is measured. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Starts the upstream process and waits for the port it prints. */
export async function startUpstream(): Promise<{ child: ChildProcess; base: string }> {
  const script = fileURLToPath(new URL('./upstream.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /PORT (\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  return { child, base: `http://127.0.0.1:${port}` };
}
