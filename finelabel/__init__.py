"""finelabel: cross-modal retrieval with fine-grained labels learned by a siamese network.

Xu et al., "Fine-Grained Label Learning via Siamese Network for Cross-modal Information
Retrieval", ICCS 2019. Importing the package has no side effects.
"""

__version__ = "0.1.0"
