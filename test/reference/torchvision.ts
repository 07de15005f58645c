/**
 * The stdlib nets whose references are torchvision 0.14's own models (test/reference/generate.py), named
 * once for the tests that check them (summary rows, state dicts, exported outputs, verify's sweep).
 */

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
