MARK = "from the layer"
