# Import torch and let it do the work.
def cross_entropy_from_logits(logits, y):
    import torch

    loss = torch.nn.functional.cross_entropy(torch.as_tensor(logits), torch.as_tensor(y))
    return float(loss)
