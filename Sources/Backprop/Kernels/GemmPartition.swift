/// How one GEMM is cut into independent rectangles of C, one per pool thread.
///
/// Why independent rectangles rather than a shared packed B with barriers: every task packs only
/// the B columns it uses and reads A in place, so splitting along N costs no duplicated work and
/// no synchronization; splitting along M duplicates the (cheap, O(k·n)) packing of B, which pays
/// off when C is tall and narrow — e.g. (60, 100, 784), where 100 columns make only 3½ panels.
/// The choice comes from a small cost model counted in micro-kernel calls.
struct GemmPartition {
    let m: Int
    let n: Int
    let mr: Int
    let nr: Int
    /// Number of parts along M and along N; tasks are their product.
    let rowParts: Int
    let columnParts: Int

    var taskCount: Int { rowParts * columnParts }

    /// Below this many multiply-adds, waking the pool (≈ 1 µs) costs more than it saves.
    static let minimumParallelWork = 1 << 18

    init(m: Int, n: Int, k: Int, mr: Int, nr: Int, threads: Int) {
        self.m = m
        self.n = n
        self.mr = mr
        self.nr = nr
        let slivers = (m + mr - 1) / mr
        let panels = (n + nr - 1) / nr
        guard threads > 1, m * n * k >= Self.minimumParallelWork, slivers * panels > 1 else {
            rowParts = 1
            columnParts = 1
            return
        }
        // A half-width edge panel costs half a panel.
        let edge = n % nr
        let edgeDiscount = (edge != 0 && edge <= nr / 2) ? 0.5 : 0.0
        var best = (rows: 1, columns: 1, cost: Double.infinity)
        for rowParts in 1...threads where threads % rowParts == 0 {
            let columnParts = threads / rowParts
            guard rowParts <= slivers, columnParts <= panels else { continue }
            let sliversPerTask = Double((slivers + rowParts - 1) / rowParts)
            // Only an undivided N surely has its heaviest part holding the (cheaper) edge panel.
            let panelsPerTask = Double((panels + columnParts - 1) / columnParts)
                - (columnParts == 1 ? edgeDiscount : 0)
            // Packing B costs about a quarter of a micro-kernel call per panel and depth step.
            let cost = sliversPerTask * panelsPerTask + 0.25 * panelsPerTask
            // Ties go to splitting N, which duplicates nothing.
            if cost < best.cost - 1e-9 { best = (rowParts, columnParts, cost) }
        }
        if best.cost == .infinity {
            best = slivers >= panels ? (min(threads, slivers), 1, 0) : (1, min(threads, panels), 0)
        }
        rowParts = best.rows
        columnParts = best.columns
    }

    /// The rows and columns of C owned by `task`, aligned to whole slivers and panels.
    func ranges(ofTask task: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let rowPart = task / columnParts
        let columnPart = task % columnParts
        let slivers = (m + mr - 1) / mr
        let panels = (n + nr - 1) / nr
        let rowStart = min(m, rowPart * slivers / rowParts * mr)
        let rowEnd = min(m, (rowPart + 1) * slivers / rowParts * mr)
        let columnStart = min(n, columnPart * panels / columnParts * nr)
        let columnEnd = min(n, (columnPart + 1) * panels / columnParts * nr)
        return (rowStart..<rowEnd, columnStart..<columnEnd)
    }
}
