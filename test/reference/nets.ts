/**
 * The stdlib nets with a reference in test/reference/ (generate.py: torchvision 0.14's own models, or the
 * seed tutorials' PyTorch code), named once for the tests that check them (summary rows, state dicts,
 * exported outputs, the README table, verify's sweep).
 */

/** The first reference set (issue 3): the seed tutorials' nets and the torchvision models they use. */
export const ISSUE3_NETS = [
  'lenet5',
  'vgg11',
  'vgg16',
  'vgg19',
  'vgg16_bn',
  'vgg19_gap',
  'resnet18',
  'resnet34',
  'resnet50',
  'resnet101',
  'resnet152',
  'resnet50_cifar',
  'se_resnet50_cifar',
  'densenet121',
  'densenet_bc_cifar',
  'googlenet',
  'resnet20_cifar',
];

/** torchvision's classification zoo added for issue 13. */
export const ZOO_NETS = [
  'alexnet',
  'squeezenet1_0',
  'resnext50_32x4d',
  'wide_resnet50_2',
  'mobilenet_v2',
  'mobilenet_v3_small',
  'mobilenet_v3_large',
  'shufflenet_v2_x1_0',
  'efficientnet_b0',
  'inception_v3',
  'convnext_tiny',
  'vit_b_16',
];

/** Every stdlib net built by torchvision itself. */
export const TORCHVISION_NETS = [
  'resnet18',
  'resnet34',
  'resnet50',
  'resnet101',
  'resnet152',
  'vgg11',
  'vgg16',
  'vgg19',
  'vgg16_bn',
  'densenet121',
  'googlenet',
  ...ZOO_NETS,
];
