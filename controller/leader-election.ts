/**
 * Leader election over a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews the
 * lease; others take it over once it has not changed for `leaseDurationMs` *by their own clock* (so
 * clock skew between replicas does not matter); writes use the lease's resourceVersion, so two
 * candidates never both win. `step(now)` is one round, for tests; `start()` runs rounds on a timer.
 */

/** The Lease fields election uses (MicroTime values as RFC 3339 strings). */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** A stored Lease: its record and the resourceVersion to write against. */
export interface StoredLease {
  spec: LeaseRecord;
  resourceVersion: string;
}

/** Lease storage; `replace` rejects with `{code: 409}` when resourceVersion is stale. */
export interface LeaseClient {
  get(): Promise<StoredLease | undefined>;
  create(spec: LeaseRecord): Promise<StoredLease>;
  replace(spec: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
}

/** How to elect. */
export interface LeaderElectionOptions {
  identity: string;
  client: LeaseClient;
  /** A lease unchanged this long is free to take (default 15 s). */
  leaseDurationMs?: number;
  /** The leader gives up if it could not renew for this long (default 10 s). */
  renewDeadlineMs?: number;
  /** Time between rounds (default 2 s). */
  retryPeriodMs?: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  onError?(error: unknown): void;
  now?: () => number;
}

/** Elects one leader among the replicas sharing a Lease. */
export class LeaderElector {
  private leading = false;
  private observed: { key: string; at: number } | undefined;
  private lastRenew = 0;
  private current: StoredLease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: LeaderElectionOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private get leaseDurationMs(): number {
    return this.options.leaseDurationMs ?? 15_000;
  }

  /** One round: acquire or renew the lease; returns whether this replica leads afterwards. */
  async step(now: number = (this.options.now ?? Date.now)()): Promise<boolean> {
    let outcome: 'acquired' | 'held' | 'failed';
    try {
      outcome = (await this.tryAcquireOrRenew(now)) ? 'acquired' : 'held';
    } catch (error) {
      this.options.onError?.(error);
      outcome = 'failed';
    }
    if (outcome === 'acquired') {
      this.lastRenew = now;
      this.setLeading(true);
    } else if (outcome === 'held') {
      // Someone else holds a valid lease: never two leaders.
      this.setLeading(false);
    } else if (this.leading && now - this.lastRenew >= (this.options.renewDeadlineMs ?? 10_000)) {
      // Could not reach the API server for too long: another replica may take over now.
      this.setLeading(false);
    }
    return this.leading;
  }

  /** Runs rounds until {@link stop}. */
  start(): void {
    const round = async () => {
      if (this.stopped) return;
      await this.step();
      if (!this.stopped) this.timer = setTimeout(() => void round(), this.options.retryPeriodMs ?? 2_000);
    };
    void round();
  }

  /** Stops electing; a leader releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    const lease = this.current;
    if (!lease || lease.spec.holderIdentity !== this.options.identity) return;
    try {
      await this.options.client.replace(
        { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 },
        lease.resourceVersion,
      );
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    const me = this.options.identity;
    const time = new Date(now).toISOString();
    const existing = await this.options.client.get();
    const mine: LeaseRecord = {
      holderIdentity: me,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: time,
      renewTime: time,
      leaseTransitions: 0,
    };
    if (!existing) {
      this.current = await this.options.client.create(mine);
      return true;
    }
    const record = existing.spec;
    const key = `${record.holderIdentity ?? ''}|${record.renewTime ?? ''}|${existing.resourceVersion}`;
    if (!this.observed || this.observed.key !== key) this.observed = { key, at: now };
    const holder = record.holderIdentity ?? '';
    const durationMs = (record.leaseDurationSeconds ?? 0) * 1000 || this.leaseDurationMs;
    const expired = this.observed.at + durationMs <= now;
    if (holder !== '' && holder !== me && !expired) return false;
    const next: LeaseRecord =
      holder === me
        ? { ...record, renewTime: time, leaseDurationSeconds: mine.leaseDurationSeconds }
        : { ...mine, leaseTransitions: (record.leaseTransitions ?? 0) + 1 };
    try {
      this.current = await this.options.client.replace(next, existing.resourceVersion);
    } catch (error) {
      // Another candidate wrote first: it leads this round.
      if ((error as { code?: number }).code === 409) return false;
      throw error;
    }
    this.observed = { key: `${me}|${time}|${this.current.resourceVersion}`, at: now };
    return true;
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (leading) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }
}
