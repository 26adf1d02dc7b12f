import { createServer } from 'node:net';

/**
 * Ports this process has already handed out. The OS may give a port that was just closed to the
 * next `listen(0)`, so three calls in a row could name one port twice (blob and queue on the same
 * port: the second bind then fails with EADDRINUSE, as a CI run did). No port is handed out twice.
 */
const handedOut = new Set<number>();

/** Asks the OS for a free loopback port that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await askOs();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no fresh loopback port after 50 tries');
}

function askOs(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
