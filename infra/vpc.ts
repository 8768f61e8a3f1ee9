/**
 * prod: the functions run in private subnets to reach RDS Proxy. The subnets
 * and security groups are SSM parameters the stack reads at deploy time.
 */
import type { Deployment } from "./deployment.ts";

export function vpcParameters(d: Deployment) {
  const vpc = d.settings.vpc;
  if (!vpc) return {};
  return {
    PrivateSubnetIds: {
      Type: "AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>",
      Default: vpc.subnetIdsParameter,
    },
    LambdaSecurityGroupIds: {
      Type: "AWS::SSM::Parameter::Value<List<AWS::EC2::SecurityGroup::Id>>",
      Default: vpc.securityGroupIdsParameter,
    },
  };
}

// The schema only accepts a list or Fn::Split here, so join the parameter's list and split it again.
const listParameter = (name: string) => ({ "Fn::Split": [",", { "Fn::Join": [",", { Ref: name }] }] });

/** The provider's vpc setting (every function), from the parameters above. */
export function functionsVpc(d: Deployment) {
  if (!d.settings.vpc) return {};
  return {
    vpc: {
      subnetIds: listParameter("PrivateSubnetIds"),
      securityGroupIds: listParameter("LambdaSecurityGroupIds"),
    },
  };
}
