package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/jsii-runtime-go"
)

// PageBundle is the file name of the Integrations page's bundle (what web/build.mjs writes).
const PageBundle = "dealerai-integrations.js"

// PagePath is the immutable path the bundle is published under: a new bundle gets a new path
// (its content's hash), so a portal pinned to one version keeps getting exactly it.
func PagePath(bundle []byte) string {
	sum := sha256.Sum256(bundle)
	return "integrations/" + hex.EncodeToString(sum[:])[:16] + "/" + PageBundle
}

// pageCSP is the Content-Security-Policy of the bundle's responses: it is a script, never a
// document, so nothing may load from it or frame it.
const pageCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// integrationsPage publishes the Integrations page's bundle (docs/operations.md#integrations-page):
// a private S3 bucket read only by CloudFront through origin access control, the bundle under
// an immutable versioned path, and responses with security headers and CORS for the portal's
// origins (module scripts load in CORS mode). Access logs of the bucket and the distribution
// go to a log bucket.
func (s *Stack) integrationsPage(dir string) {
	bundle, err := os.ReadFile(filepath.Join(dir, PageBundle))
	if err != nil {
		panic(fmt.Sprintf("%s is missing: run `make build` first, which bundles web/ (%v)", filepath.Join(dir, PageBundle), err))
	}
	logs := awss3.NewBucket(s.Stack, jsii.String("PageLogs"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		// CloudFront's standard logs are written with an ACL.
		ObjectOwnership: awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
		LifecycleRules:  &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(90))}},
		RemovalPolicy:   awscdk.RemovalPolicy_RETAIN,
	})
	suppress(logs, "AwsSolutions-S1", "This is the log bucket of the Integrations page's bucket and distribution; logging its own access into itself would loop.", nil)

	bucket := awss3.NewBucket(s.Stack, jsii.String("PageBucket"), &awss3.BucketProps{
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:             jsii.Bool(true),
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("s3/"),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
	})

	headers := awscloudfront.NewResponseHeadersPolicy(s.Stack, jsii.String("PageHeaders"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment: jsii.String("DealerAI Integrations page: security headers, CORS for the portal"),
		CorsBehavior: &awscloudfront.ResponseHeadersCorsBehavior{
			AccessControlAllowOrigins:     jsii.Strings(s.Config.CORSOrigins...),
			AccessControlAllowMethods:     jsii.Strings("GET", "HEAD"),
			AccessControlAllowHeaders:     jsii.Strings("*"),
			AccessControlAllowCredentials: jsii.Bool(false),
			AccessControlMaxAge:           awscdk.Duration_Hours(jsii.Number(1)),
			OriginOverride:                jsii.Bool(true),
		},
		SecurityHeadersBehavior: &awscloudfront.ResponseSecurityHeadersBehavior{
			ContentSecurityPolicy: &awscloudfront.ResponseHeadersContentSecurityPolicy{ContentSecurityPolicy: jsii.String(pageCSP), Override: jsii.Bool(true)},
			ContentTypeOptions:    &awscloudfront.ResponseHeadersContentTypeOptions{Override: jsii.Bool(true)},
			FrameOptions:          &awscloudfront.ResponseHeadersFrameOptions{FrameOption: awscloudfront.HeadersFrameOption_DENY, Override: jsii.Bool(true)},
			ReferrerPolicy:        &awscloudfront.ResponseHeadersReferrerPolicy{ReferrerPolicy: awscloudfront.HeadersReferrerPolicy_NO_REFERRER, Override: jsii.Bool(true)},
			StrictTransportSecurity: &awscloudfront.ResponseHeadersStrictTransportSecurity{
				AccessControlMaxAge: awscdk.Duration_Days(jsii.Number(730)), IncludeSubdomains: jsii.Bool(true), Preload: jsii.Bool(true), Override: jsii.Bool(true),
			},
		},
		CustomHeadersBehavior: &awscloudfront.ResponseCustomHeadersBehavior{CustomHeaders: &[]*awscloudfront.ResponseCustomHeader{
			// a portal that isolates itself (COEP) may still load the script
			{Header: jsii.String("Cross-Origin-Resource-Policy"), Value: jsii.String("cross-origin"), Override: jsii.Bool(true)},
		}},
	})

	dist := awscloudfront.NewDistribution(s.Stack, jsii.String("PageDistribution"), &awscloudfront.DistributionProps{
		Comment: jsii.String("DealerAI Integrations page (the <dealerai-integrations> bundle)"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:                awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(bucket, nil),
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
			AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_GET_HEAD(),
			CachePolicy:           awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
			ResponseHeadersPolicy: headers,
			Compress:              jsii.Bool(true),
		},
		HttpVersion:   awscloudfront.HttpVersion_HTTP2_AND_3,
		PriceClass:    awscloudfront.PriceClass_PRICE_CLASS_100,
		EnableLogging: jsii.Bool(true),
		LogBucket:     logs,
		LogFilePrefix: jsii.String("cloudfront/"),
	})
	suppress(dist, "AwsSolutions-CFR1", "The page is used by dealerships wherever they are; the bundle is public code holding no data, so there is nothing to restrict by country.", nil)
	suppress(dist, "AwsSolutions-CFR2", "The distribution serves one immutable, public JavaScript file from its cache: no dynamic content, forms or data for a WAF to protect. The API the page calls is behind its own JWT authorizer and throttling.", nil)
	suppress(dist, "AwsSolutions-CFR4", "The distribution uses CloudFront's default *.cloudfront.net certificate, whose security policy CloudFront sets; a deployment that serves the page on its own domain sets TLSv1.2_2021 with its certificate.", nil)

	path := PagePath(bundle)
	deploy := awss3deployment.NewBucketDeployment(s.Stack, jsii.String("PageDeployment"), &awss3deployment.BucketDeploymentProps{
		Sources: &[]awss3deployment.ISource{awss3deployment.Source_Asset(jsii.String(dir), &awss3assets.AssetOptions{
			Exclude: jsii.Strings("*", "!"+PageBundle),
		})},
		DestinationBucket:    bucket,
		DestinationKeyPrefix: jsii.String(strings.TrimSuffix(path, PageBundle)),
		// Earlier versions stay: a portal that pins one keeps loading it.
		Prune:        jsii.Bool(false),
		CacheControl: &[]awss3deployment.CacheControl{awss3deployment.CacheControl_FromString(jsii.String("public, max-age=31536000, immutable"))},
		ContentType:  jsii.String("text/javascript; charset=utf-8"),
	})
	// The deployment's copy function is CDK's own (a singleton of the stack).
	suppress(deploy.HandlerRole(), "AwsSolutions-IAM4", "CDK's BucketDeployment function uses the AWS managed AWSLambdaBasicExecutionRole to write its logs; it runs only during deployments.", []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"})
	suppress(deploy.HandlerRole(), "AwsSolutions-IAM5", "CDK's BucketDeployment grants read on the CDK asset bucket's objects and write on the page bucket's objects (object wildcards): it copies the bundle from one to the other.", nil)
	for _, child := range *s.Stack.Node().Children() {
		if id := *child.Node().Id(); strings.HasPrefix(id, "Custom::CDKBucketDeployment") {
			suppress(child, "AwsSolutions-L1", "CDK's BucketDeployment function runs on the Python runtime the CDK version pins; it runs only during deployments and is updated with the CDK.", nil)
		}
	}

	awscdk.NewCfnOutput(s.Stack, jsii.String("IntegrationsPageUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("URL of the <dealerai-integrations> bundle for the portal's <script type=module src=...>"),
		Value:       jsii.String("https://" + *dist.DistributionDomainName() + "/" + path),
	})
	s.PageDistribution = dist
	s.PageBucket = bucket
}
