import CBackpropSupport

/// The vector instruction sets this build of Backprop was compiled for.
///
/// The package compiles with `-march=native`, so these describe the build machine. Kernels choose
/// their register-blocking shape from them (a 16-wide AVX-512 micro-kernel spills on AVX2).
public enum CPUFeatures {
    /// AVX-512 Foundation: 32 registers of 16 floats.
    public static let hasAVX512: Bool = BP_HAS_AVX512F != 0
    /// AVX2 with FMA3: 16 registers of 8 floats.
    public static let hasAVX2FMA: Bool = BP_HAS_AVX2_FMA != 0
    /// Arm NEON: 32 registers of 4 floats.
    public static let hasNEON: Bool = BP_HAS_NEON != 0
    /// Width in floats of the widest vector register the build targets.
    public static let vectorWidth: Int = Int(bp_vector_width_floats())
}
