// Row kernels: the fixed element-wise and reduction kernels (elementwise.h), Batch
// Normalization's passes (batchnorm.h) and the optimizer updates (optimizer_updates.h), and the
// initializer of the level table's `rows` field (contracts in include/bp_row_kernels.h). Part of
// the per-level kernel bodies: see kernels_<level>.c.
#include "elementwise.h"
#include "batchnorm.h"
#include "optimizer_updates.h"

#define BP_ROW_KERNELS_INIT                                       \
    {                                                             \
        .convert_bytes = ew_convert_bytes,                        \
        .fill = ew_fill,                                          \
        .axpy = ew_axpy,                                          \
        .scale = ew_scale,                                        \
        .sum = ew_sum,                                            \
        .dot = ew_dot,                                            \
        .column_sums = ew_column_sums,                            \
        .row_sums = ew_row_sums,                                  \
        .max_index = ew_max_index,                                \
        .batchnorm_forward_training = bn_forward_training,        \
        .batchnorm_centered_squares = bn_centered_squares,        \
        .batchnorm_normalize = bn_normalize,                      \
        .batchnorm_forward_inference = bn_forward_inference,      \
        .batchnorm_backward_sums = bn_backward_sums,              \
        .batchnorm_input_gradient = bn_input_gradient,            \
        .batchnorm_backward = bn_backward,                        \
        .sgd = opt_sgd,                                           \
        .momentum = opt_momentum,                                 \
        .nesterov = opt_nesterov,                                 \
        .adagrad = opt_adagrad,                                   \
        .adadelta = opt_adadelta,                                 \
        .rmsprop = opt_rmsprop,                                   \
        .adam = opt_adam,                                         \
        .adamax = opt_adamax,                                     \
        .nadam = opt_nadam,                                       \
        .amsgrad = opt_amsgrad,                                   \
        .coupled_decay = opt_coupled_decay,                       \
        .decoupled_decay = opt_decoupled_decay,                   \
        .sum_squares = opt_sum_squares,                           \
        .clip_by_value = opt_clip_by_value,                       \
    }
