import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Is the process that holds a checkpoint lease (or a lock) gone? Only
 * knowable on the same host: a process that does not exist, or a zombie
 * (killed, not yet reaped; a container without an init leaves those), is
 * gone. Anything else, including another host, is presumed alive.
 */
export function processGone(host: string, pid: number): boolean {
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
  try {
    // /proc/PID/stat: "pid (comm) state ...": the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return false;
  }
}
