import Backprop
print("vector width", CPUFeatures.vectorWidth, CPUFeatures.hasAVX512)
