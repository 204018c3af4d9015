"""Timing of a Python callable for the peer scripts: warm-up, then the median of 3 timed loops."""
import time


def median_ms(step, min_time, warmup=3):
    """Milliseconds per call of `step`: `warmup` untimed calls, then 3 loops of at least
    `min_time` seconds each; the median loop's mean."""
    for _ in range(warmup):
        step()
    samples = []
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while True:
            step()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        samples.append(elapsed / n)
    return sorted(samples)[1] * 1e3
