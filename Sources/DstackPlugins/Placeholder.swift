import DstackCore
