print("dstack")
