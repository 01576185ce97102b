import pg from 'pg';

/**
 * One dedicated connection that LISTENs on a channel and fans notifications out to listeners.
 * It connects on the first subscription and reconnects after an error; listeners are also called
 * after a reconnect, since notifications sent while it was down are lost (polling covers that
 * too, this only shortens the delay).
 */
export class PgListener {
  private readonly listeners = new Set<() => void>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  /** Whether a connection was ever up: a later one is a reconnect, after which listeners are woken. */
  private hadClient = false;
  private down = false;

  constructor(
    private readonly connectionString: string,
    private readonly channel: string,
    /** Only notifications with this payload count: several schemas may share a database. */
    private readonly payload: string,
    private readonly log: (msg: string, err?: unknown) => void,
  ) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    if (!this.client && !this.connecting && !this.retry) this.connecting = this.connect();
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.connecting;
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, application_name: 'countersign-listen', keepAlive: true });
    client.on('error', (err) => this.lost(client, err));
    client.on('notification', (n) => {
      if (n.payload === this.payload) this.emit();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (this.closed) return void (await client.end().catch(() => {}));
      const reconnected = this.client === null && this.hadClient;
      this.client = client;
      this.hadClient = true;
      if (this.down) this.log('postgres: the LISTEN connection is back');
      this.down = false;
      if (reconnected) this.emit();
    } catch (err) {
      this.lost(client, err);
    } finally {
      this.connecting = null;
    }
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.client === client) this.client = null;
    client.end().catch(() => {});
    if (this.closed || this.retry) return;
    // Once per outage, not once per attempt.
    if (!this.down) this.log('postgres: the LISTEN connection failed; reconnecting every second (polling meanwhile)', err);
    this.down = true;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.closed) this.connecting = this.connect();
    }, 1_000);
    this.retry.unref();
  }

  private emit(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.log('postgres: a jobs-queued listener threw', err);
      }
    }
  }
}
