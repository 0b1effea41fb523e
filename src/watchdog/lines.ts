// The last lines a child wrote (stdout and stderr interleaved), kept for a crash log.

export class LastLines {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly max = 200, private readonly maxLineChars = 4000) {}

  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split('\n');
    this.partial = (parts.pop() ?? '').slice(-this.maxLineChars);
    for (const l of parts) {
      this.lines.push(l.slice(0, this.maxLineChars));
      if (this.lines.length > this.max) this.lines.shift();
    }
  }

  text(): string {
    return [...this.lines, ...(this.partial ? [this.partial] : [])].join('\n') + '\n';
  }
}
