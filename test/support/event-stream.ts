/** A Server-Sent Events reader over fetch, for the live inbox: hands out events in order, comments skipped. */
export class EventStream {
  private static readonly streams = new Set<EventStream>();
  private readonly events: { event: string; data: string }[] = [];
  private buffer = '';
  private ended = false;
  private wake: () => void = () => undefined;

  private constructor(
    readonly status: number,
    private readonly controller: AbortController,
    body: ReadableStream<Uint8Array> | null,
  ) {
    void this.pump(body);
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<EventStream> {
    const controller = new AbortController();
    const response = await fetch(url, { headers, signal: controller.signal });
    const stream = new EventStream(response.status, controller, response.body);
    EventStream.streams.add(stream);
    return stream;
  }

  /** Closes every stream still open (for afterAll: an open stream keeps the API from closing). */
  static closeAll(): void {
    for (const stream of EventStream.streams) stream.close();
  }

  /** The next event, which must be of this type; its data parsed as JSON. */
  async expectEvent(type: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const next = await this.next(timeoutMs);
    if (!next) throw new Error(`no ${type} event within ${timeoutMs} ms`);
    expect(next.event).toBe(type);
    return JSON.parse(next.data) as Record<string, unknown>;
  }

  /** The next event, or null when none comes within `timeoutMs` (to show that nothing arrives). */
  async next(timeoutMs: number): Promise<{ event: string; data: string } | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length === 0) {
      if (this.ended) throw new Error('the event stream ended');
      if (Date.now() >= deadline) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(200, deadline - Date.now()));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.events.shift()!;
  }

  close(): void {
    this.controller.abort();
    EventStream.streams.delete(this);
  }

  private async pump(body: ReadableStream<Uint8Array> | null): Promise<void> {
    const reader = body?.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        if (!reader) break;
        const { done, value } = await reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
        for (let end = this.buffer.indexOf('\n\n'); end >= 0; end = this.buffer.indexOf('\n\n')) {
          const lines = this.buffer
            .slice(0, end)
            .split('\n')
            .filter((l) => !l.startsWith(':'));
          this.buffer = this.buffer.slice(end + 2);
          const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, ''));
          if (data.length === 0) continue;
          const event =
            lines
              .find((l) => l.startsWith('event:'))
              ?.slice(6)
              .trim() ?? 'message';
          this.events.push({ event, data: data.join('\n') });
          this.wake();
        }
      }
    } catch {
      // aborted by close()
    } finally {
      this.ended = true;
      this.wake();
    }
  }
}
