import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** Who listens on a port, as far as this machine tells us. */
export interface PortOwner {
  readonly pid: number;
  /** The process's command line, shortened. */
  readonly command: string;
}

/** True when nothing listens on host:port (we could bind it ourselves). */
export async function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * The process listening on TCP `port`, found the way `ss -p` does it on Linux: the listening
 * socket's inode from /proc/net/tcp{,6}, then the process whose fd links to `socket:[inode]`.
 * `undefined` where /proc is missing or the owner belongs to another user (its fds are hidden).
 */
export function findPortOwner(port: number): PortOwner | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT; state 0A is LISTEN; the inode is column 10.
      const local = cols[1];
      if (!local || cols[3] !== '0A') continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) return { pid: Number(pid), command: commandOf(pid) };
    }
  }
  return undefined;
}

function commandOf(pid: string): string {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    // An inline script says little and is long: show `-e …` and the arguments after it.
    const cmd = args.map((a, i) => (i > 0 && (args[i - 1] === '-e' || args[i - 1] === '--eval') ? '…' : a)).join(' ');
    return cmd.length > 160 ? `${cmd.slice(0, 157)}...` : cmd;
  } catch {
    return '?';
  }
}

/** "pid 123 (node …azurite.js …)" or "another process". */
export function describePortOwner(port: number): string {
  const owner = findPortOwner(port);
  return owner ? `pid ${owner.pid} (${owner.command})` : 'another process';
}
