# Amazon EKS: the cluster the Spark 4.1 jobs (Spark on Kubernetes, the project's image) and Airflow run on.
# No managed Spark runtime ships Spark 4.1 (docs/decisions/0010-cloud-deployment.md).
data "aws_iam_policy_document" "assume" {
  for_each = { cluster = "eks.amazonaws.com", nodes = "ec2.amazonaws.com" }
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each           = data.aws_iam_policy_document.assume
  name               = "${var.name}-eks-${each.key}"
  assume_role_policy = each.value.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = {
    cluster-eks  = { role = "cluster", policy = "AmazonEKSClusterPolicy" }
    nodes-worker = { role = "nodes", policy = "AmazonEKSWorkerNodePolicy" }
    nodes-cni    = { role = "nodes", policy = "AmazonEKS_CNI_Policy" }
    nodes-ecr    = { role = "nodes", policy = "AmazonEC2ContainerRegistryReadOnly" }
  }
  role       = aws_iam_role.this[each.value.role].name
  policy_arn = "arn:aws:iam::aws:policy/${each.value.policy}"
}

resource "aws_eks_cluster" "this" {
  name     = var.name
  role_arn = aws_iam_role.this["cluster"].arn
  version  = var.kubernetes_version
  tags     = var.tags

  vpc_config {
    subnet_ids              = var.subnet_ids
    security_group_ids      = var.security_group_ids
    endpoint_private_access = true
    endpoint_public_access  = var.public_endpoint
  }

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  depends_on = [aws_iam_role_policy_attachment.this]
}

resource "aws_eks_node_group" "this" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "workers"
  node_role_arn   = aws_iam_role.this["nodes"].arn
  subnet_ids      = var.subnet_ids
  instance_types  = [var.instance_type]
  tags            = var.tags

  scaling_config {
    desired_size = var.node_count
    min_size     = var.node_count
    max_size     = var.node_count * 2
  }
}

# Pods get AWS credentials (Keyspaces SigV4, S3, Secrets Manager) from EKS Pod Identity, not from keys.
resource "aws_eks_addon" "this" {
  cluster_name = aws_eks_cluster.this.name
  addon_name   = "eks-pod-identity-agent"
  tags         = var.tags
}

resource "aws_eks_pod_identity_association" "this" {
  cluster_name    = aws_eks_cluster.this.name
  namespace       = var.namespace
  service_account = var.service_account
  role_arn        = var.workload_role_arn
  tags            = var.tags
}
