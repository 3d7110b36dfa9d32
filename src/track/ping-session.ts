// A long-running `ping` per target: one echo per interval, each answered, refused or missed, read line by
// line. No process is started per round, which is what keeps an idle daemon cheap.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ProbeResult } from '../model/tracking.js';
import { pingFamily, type Egress } from './probes.js';

export type EchoResult = Omit<ProbeResult, 'target'>;

/**
 * `ping -n -O -i INTERVAL -W TIMEOUT -I DEVICE -m MARK TARGET`: -O reports an echo left unanswered when
 * the next one is sent, so every sequence number gets exactly one verdict. That report comes `interval`
 * after the echo; an echo still unanswered `timeout` after it was sent is judged missed then (its send
 * time known from ping's own lines: a reply's time minus its round trip, a report's time for the next
 * echo). A reply slower than `timeout` is a failure; a late reply to an echo already judged is ignored.
 * A ping that exits or goes silent is judged a failure (with why) and started again.
 */
export class PingSession {
  private child: ChildProcess | null = null;
  private judged = new Set<number>();
  private silence: NodeJS.Timeout | null = null;
  /** An echo and when ping sent it (ms, performance.now()), from its latest line; null before the first. */
  private anchor: { seq: number; at: number } | null = null;
  private deadline: NodeJS.Timeout | null = null;
  private restart: NodeJS.Timeout | null = null;
  private stopped = false;
  private generation = 0;

  constructor(
    private readonly target: string,
    private readonly egress: Egress,
    private readonly interval: number,
    private readonly timeout: number,
    /** Called once per echo, in order; `gen` changes at every restart (sequence numbers start again). */
    private readonly onEcho: (gen: number, seq: number, r: EchoResult) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.spawn();
  }

  stop(): void {
    this.stopped = true;
    if (this.silence) clearTimeout(this.silence);
    if (this.deadline) clearTimeout(this.deadline);
    if (this.restart) clearTimeout(this.restart);
    this.child?.kill('SIGKILL');
    this.child = null;
  }

  private spawn(): void {
    if (this.stopped) return;
    const gen = ++this.generation;
    this.judged = new Set();
    this.anchor = null;
    if (this.deadline) clearTimeout(this.deadline);
    const args = [
      ...pingFamily(this.target),
      '-n',
      '-O',
      '-i',
      String(this.interval),
      '-W',
      String(this.timeout),
      '-I',
      this.egress.device,
      '-m',
      String(this.egress.mark),
      this.target,
    ];
    const child = spawn('ping', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
    this.child = child;
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr = (stderr + c).slice(-500)));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      this.onLine(gen, line);
    });
    this.armSilence(gen);
    child.once('error', (e) => {
      this.failAndRestart(gen, `ping could not run: ${e.message}`);
    });
    child.once('exit', (code, signal) => {
      if (this.stopped || gen !== this.generation) return;
      const why = signal ? `ping died (${signal})` : stderr.trim().split('\n')[0] || `ping exited ${code ?? 'null'}`;
      this.failAndRestart(gen, why);
    });
  }

  /**
   * Nothing at all for a while (a hung ping): a failure, and a fresh process. The longest quiet a working
   * ping keeps is almost two intervals: after a prompt reply to one echo, the next one's miss is printed
   * only as the one after it goes out.
   */
  private armSilence(gen: number): void {
    if (this.silence) clearTimeout(this.silence);
    const ms = Math.ceil((2 * this.interval + this.timeout) * 1000) + 500;
    this.silence = setTimeout(() => {
      if (gen !== this.generation) return;
      this.child?.kill('SIGKILL');
      this.failAndRestart(gen, `ping produced no result within ${ms} ms (killed)`);
    }, ms);
  }

  private failAndRestart(gen: number, why: string): void {
    if (this.stopped || gen !== this.generation) return;
    this.generation++;
    if (this.silence) clearTimeout(this.silence);
    if (this.deadline) clearTimeout(this.deadline);
    this.onEcho(gen, Number.MAX_SAFE_INTEGER, { ok: false, rttMs: null, error: why });
    // Not in a tight loop: a ping that cannot start is retried once per interval (at least 0.5 s).
    this.restart = setTimeout(
      () => {
        this.spawn();
      },
      Math.max(500, this.interval * 1000),
    );
  }

  /** Keeps the newest echo whose send time is known (a late reply to an older one does not move it back). */
  private reanchor(seq: number, at: number): void {
    if (this.anchor === null || seq >= this.anchor.seq) this.anchor = { seq, at };
  }

  private judge(gen: number, seq: number, r: EchoResult): void {
    if (this.judged.has(seq)) return;
    this.judged.add(seq);
    if (this.judged.size > 256) this.judged.delete(Math.min(...this.judged));
    this.onEcho(gen, seq, r);
  }

  /**
   * Judges the oldest echo without a verdict as missed once `timeout` has passed since it was (by ping's
   * interval, from the anchor) sent. Only ping's own lines re-arm the silence watch, never these verdicts.
   */
  private watchDeadline(gen: number): void {
    if (this.deadline) clearTimeout(this.deadline);
    if (this.anchor === null) return;
    let { seq, at } = this.anchor;
    while (this.judged.has(seq)) {
      seq++;
      at += this.interval * 1000;
    }
    // A little slack for ping's and this process's scheduling: never judged before the timeout.
    const due = at + this.timeout * 1000 + DEADLINE_SLACK_MS;
    this.deadline = setTimeout(
      () => {
        if (gen !== this.generation || this.stopped) return;
        this.judge(gen, seq, { ok: false, rttMs: null, error: `no reply within ${this.timeout * 1000} ms` });
        this.watchDeadline(gen);
      },
      Math.max(0, due - performance.now()),
    );
  }

  private onLine(gen: number, line: string): void {
    if (gen !== this.generation) return;
    const now = performance.now();
    const verdict = (seq: number, r: EchoResult) => {
      this.armSilence(gen);
      this.judge(gen, seq, r);
      this.watchDeadline(gen);
    };
    const reply = /^\d+ bytes from .*icmp_seq=(\d+).* time=([\d.]+) ms/.exec(line);
    if (reply) {
      const seq = Number(reply[1]);
      const rtt = Number(reply[2]);
      this.reanchor(seq, now - rtt);
      verdict(
        seq,
        rtt <= this.timeout * 1000
          ? { ok: true, rttMs: rtt, error: null }
          : { ok: false, rttMs: null, error: `reply after ${rtt} ms (timeout ${this.timeout * 1000} ms)` },
      );
      return;
    }
    const missed = /^no answer yet for icmp_seq=(\d+)/.exec(line);
    if (missed) {
      // Printed as the next echo goes out.
      const seq = Number(missed[1]);
      this.reanchor(seq + 1, now);
      verdict(seq, { ok: false, rttMs: null, error: 'no reply' });
      return;
    }
    const error = /^From (\S+?):? .*icmp_seq=(\d+) (.+)$/.exec(line);
    if (error && !(error[3] as string).startsWith('Redirect')) {
      verdict(Number(error[2]), { ok: false, rttMs: null, error: `${error[3] as string} (from ${error[1] as string})` });
    }
  }
}

/** How much later than `timeout` after its send an unanswered echo is judged missed. */
const DEADLINE_SLACK_MS = 50;
