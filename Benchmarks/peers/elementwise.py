"""Element-wise add (c = a + b, fresh output), in-place add and full sum over 2^22 float32 values in NumPy, GB/s."""
import common


def main():
    p = common.base_parser(__doc__.splitlines()[0], frameworks=("numpy",))
    p._actions[[a.dest for a in p._actions].index("framework")].required = False
    p.add_argument("--n", type=int, default=1 << 22)
    p.set_defaults(reps=7, warmup=1)
    p.set_defaults(framework="numpy")
    args = p.parse_args()
    common.setup_threads(args.threads)
    versions = common.init_framework("numpy", args.threads, args.seed)
    import numpy as np
    rng = np.random.RandomState(args.seed)
    a = rng.uniform(size=args.n).astype(np.float32)
    b = rng.uniform(size=args.n).astype(np.float32)
    c = np.zeros_like(a)
    k = 20
    nbytes = 4.0 * args.n

    def add():
        for _ in range(k):
            (a + b)[0]

    def add_inplace():
        for _ in range(k):
            np.add(c, a, out=c)

    def total():
        for _ in range(k):
            a.sum()

    res = {}
    for name, fn, traffic in (("add_gbs", add, 3), ("add_inplace_gbs", add_inplace, 3), ("sum_gbs", total, 1)):
        times = common.time_reps(fn, args.warmup, args.reps)
        res[name] = common.summary([traffic * nbytes * k / t / 1e9 for t in times], ndigits=2)
    common.emit({"bench": "elementwise", "framework": "numpy", "threads": args.threads, "n": args.n, **res,
                 "versions": versions})


if __name__ == "__main__":
    main()
