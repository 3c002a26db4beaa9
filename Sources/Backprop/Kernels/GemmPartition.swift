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

    /// - Parameters:
    ///   - bTransposed: B is packed by transposing (A·Bᵀ), which costs more per panel.
    ///   - bInPlace: B may be read in place by tasks of at most `inPlaceRowLimit` rows.
    ///   - aPacked: each task packs its rows of A (transposed A at levels that pack it), a copy
    ///     that splitting N repeats in every task and splitting M divides.
    init(m: Int, n: Int, k: Int, mr: Int, nr: Int, threads: Int,
         bTransposed: Bool, bInPlace: Bool, inPlaceRowLimit: Int, aPacked: Bool = false) {
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
        // Large problems may also take 2 tasks per thread: with dynamic claiming, a thread that
        // the OS deschedules on a shared machine then delays a quarter of the product instead of
        // half. It is chosen only when the model says it costs (almost) nothing on an idle machine.
        let perThreadOptions = m * n * k >= threads << 24 ? [1, 2] : [1]
        for perThread in perThreadOptions {
            let tasks = threads * perThread
            for rowParts in 1...tasks where tasks % rowParts == 0 {
                let columnParts = tasks / rowParts
                guard rowParts <= slivers, columnParts <= panels else { continue }
                let rowsPerTask = (slivers + rowParts - 1) / rowParts
                // Only an undivided N surely has its heaviest part holding the (cheaper) edge panel.
                let panelsPerTask = Double((panels + columnParts - 1) / columnParts)
                    - (columnParts == 1 ? edgeDiscount : 0)
                // Packing one panel for one depth step, in units of one micro-kernel step
                // (8 cycles): a copy from L3 ≈ 0.75, a transposing copy ≈ 1.25, none in place.
                let packing = bInPlace && rowsPerTask * mr <= inPlaceRowLimit ? 0 : (bTransposed ? 1.25 : 0.75)
                // Packing A's slivers (a task with more than one panel packs them): mr of every nr
                // elements of a B panel's copy, read contiguously.
                let aPacking = aPacked && panelsPerTask > 1 ? 0.75 * Double(mr) / Double(nr) * Double(rowsPerTask) : 0
                let taskCost = Double(rowsPerTask) * panelsPerTask + packing * panelsPerTask + aPacking
                // Each thread runs `perThread` tasks; 3 % slack buys the balance on a busy machine.
                let cost = taskCost * Double(perThread) * (perThread > 1 ? 0.97 : 1)
                // Ties go to splitting N, which duplicates nothing.
                if cost < best.cost - 1e-9 { best = (rowParts, columnParts, cost) }
            }
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
