/**
 * What every benchmark reports: wall time, CPU of this process, and peak resident memory sampled
 * while the measured work runs (a final `memoryUsage()` alone would miss a transient peak).
 */
export interface Measurement<T> {
  result: T
  seconds: number
  cpuSeconds: number
  peakRssMb: number
  startRssMb: number
}

const mb = (bytes: number) => Math.round(bytes / (1024 * 1024))

export async function measure<T>(work: () => Promise<T>, sampleEveryMs = 50): Promise<Measurement<T>> {
  const startRss = process.memoryUsage().rss
  let peak = startRss
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, sampleEveryMs)
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  try {
    const result = await work()
    const seconds = (performance.now() - t0) / 1000
    const used = process.cpuUsage(cpu)
    peak = Math.max(peak, process.memoryUsage().rss)
    return { result, seconds, cpuSeconds: (used.user + used.system) / 1e6, peakRssMb: mb(peak), startRssMb: mb(startRss) }
  } finally {
    clearInterval(sampler)
  }
}
