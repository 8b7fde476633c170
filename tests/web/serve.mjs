// The web tests' server: scripts/web/serve (web/ cross-origin isolated,
// models/ under /models/) on a free port. Resolves to {server, base}.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export async function serveWeb(root) {
  const server = spawn('python3', [join(root, 'scripts', 'web', 'serve'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    server.stdout.on('data', (d) => {
      const m = /127\.0\.0\.1:(\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', (code) => reject(new Error(`scripts/web/serve exited with ${code}`)));
  });
  return { server, base: `http://127.0.0.1:${port}` };
}
