// The daemon's metrics out of the process: the HTTP endpoint and the textfile, both rendering the live state on demand.
import type { Server } from 'node:net';
import type { ResolvedMetrics } from '../config/resolved.js';
import type { Logger } from '../model/logger.js';
import { serveMetrics, writeTextfile } from '../metrics/serve.js';

export class MetricsOutlets {
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly render: () => Promise<string>,
    private readonly log: Pick<Logger, 'info' | 'warn'>,
  ) {}

  async start(m: ResolvedMetrics): Promise<void> {
    if (m.listen) {
      this.server = await serveMetrics(m.listen, this.render);
      this.log.info(`metrics on http://${m.listen}/metrics`);
    }
    if (m.textfile) {
      const path = m.textfile;
      const write = () =>
        void this.render()
          .then((text) => writeTextfile(path, text))
          .catch((e: unknown) => {
            this.log.warn(`metrics textfile ${path}: ${(e as Error).message}`);
          });
      write();
      this.timer = setInterval(write, m.interval * 1000);
    }
  }

  stop(): void {
    this.server?.close();
    if (this.timer) clearInterval(this.timer);
  }
}
