print("cluster-node")
