/**
 * One syscall per socket per event-loop turn instead of one per message.
 *
 * A statement's answer is several protocol messages written from different
 * places (relay, pipeline, ReadyForQuery from the session), and an extended
 * query is five messages to the upstream. Written one by one, each becomes
 * its own write(2): profiling pgbench through the proxy showed a third of the
 * process's CPU in socket writes. The first write of a turn corks the socket;
 * a setImmediate — which runs after the poll phase, when every I/O callback
 * and microtask of this turn has had its say — uncorks it, flushing
 * everything written meanwhile as one writev. Backpressure is unchanged:
 * `write` still returns false above the high-water mark.
 */
import type { Writable } from 'node:stream';

const corked = new WeakSet<Writable>();

export function batchedWrite(socket: Writable, chunk: Buffer): boolean {
  if (!corked.has(socket)) {
    corked.add(socket);
    socket.cork();
    setImmediate(() => {
      corked.delete(socket);
      socket.uncork();
    });
  }
  return socket.write(chunk);
}
