package gluetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/cdcmerge/cdcmerge/internal/gluetest"
)

func client(srv *gluetest.Server) *glue.Client {
	return glue.New(glue.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "secret", ""),
	})
}

func input(name, metadata string) *types.TableInput {
	return &types.TableInput{
		Name:       aws.String(name),
		TableType:  aws.String("EXTERNAL_TABLE"),
		Parameters: map[string]string{"table_type": "ICEBERG", "metadata_location": metadata},
		StorageDescriptor: &types.StorageDescriptor{
			Location: aws.String("s3://b/db.db/" + strings.ToLower(name)),
			Columns:  []types.Column{{Name: aws.String("id"), Type: aws.String("bigint")}},
		},
	}
}

// TestProtocol drives the fake with the real SDK client: typed errors,
// VersionId concurrency, pagination and lower-cased names.
func TestProtocol(t *testing.T) {
	srv := gluetest.Start(t)
	c := client(srv)
	ctx := context.Background()

	_, err := c.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("db"), TableInput: input("t", "m0")})
	var nf *types.EntityNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("CreateTable in a missing database: %v", err)
	}
	if _, err := c.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String("DB")}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String("db")}})
	var ae *types.AlreadyExistsException
	if !errors.As(err, &ae) {
		t.Fatalf("CreateDatabase twice: %v", err)
	}
	for _, n := range []string{"T", "u", "v"} {
		if _, err := c.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("db"), TableInput: input(n, "m0")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("db"), TableInput: input("t", "m0")}); !errors.As(err, &ae) {
		t.Fatalf("CreateTable twice: %v", err)
	}
	got, err := c.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("Db"), Name: aws.String("T")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Table.Name) != "t" || aws.ToString(got.Table.DatabaseName) != "db" || aws.ToString(got.Table.VersionId) != "0" ||
		got.Table.Parameters["metadata_location"] != "m0" || got.Table.CreateTime == nil {
		t.Fatalf("GetTable: %+v", got.Table)
	}
	if _, err := c.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("db"), Name: aws.String("x")}); !errors.As(err, &nf) {
		t.Fatalf("GetTable of a missing table: %v", err)
	}

	// UpdateTable: the current VersionId wins once; the stale one loses.
	up := func(version, metadata string) error {
		_, err := c.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String("db"), TableInput: input("t", metadata), VersionId: aws.String(version)})
		return err
	}
	if err := up("0", "m1"); err != nil {
		t.Fatal(err)
	}
	var cme *types.ConcurrentModificationException
	if err := up("0", "m1-stale"); !errors.As(err, &cme) {
		t.Fatalf("stale UpdateTable: %v", err)
	}
	if err := up("1", "m2"); err != nil {
		t.Fatal(err)
	}
	tbl, _ := srv.Table("db", "t")
	if tbl.VersionID != "2" || len(tbl.Inputs) != 3 || tbl.Current.Parameters["metadata_location"] != "m2" ||
		tbl.Inputs[1].VersionID != "1" || tbl.Current.StorageDescriptor.Columns[0].Type != "bigint" {
		t.Fatalf("table after updates: %+v", tbl)
	}

	// GetTables pages through every table.
	var names []string
	p := glue.NewGetTablesPaginator(c, &glue.GetTablesInput{DatabaseName: aws.String("db"), MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tb := range page.TableList {
			names = append(names, aws.ToString(tb.Name))
		}
	}
	if strings.Join(names, ",") != "t,u,v" || pages != 2 {
		t.Fatalf("GetTables: %v in %d pages", names, pages)
	}

	if _, err := c.DeleteTable(ctx, &glue.DeleteTableInput{DatabaseName: aws.String("db"), Name: aws.String("u")}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(srv.Tables("db"), ","); got != "t,v" {
		t.Fatalf("tables after DeleteTable: %s", got)
	}
	for _, call := range srv.Calls() {
		if call.AccessKey != "AKIDFAKE" {
			t.Fatalf("call %+v", call)
		}
	}
}

// TestUnsigned: a request without a SigV4 Authorization header is refused
// with AWS's error shape, before anything is done.
func TestUnsigned(t *testing.T) {
	srv := gluetest.Start(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(`{"DatabaseInput":{"Name":"db"}}`))
	req.Header.Set("X-Amz-Target", "AWSGlue.CreateDatabase")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || body["__type"] != "MissingAuthenticationTokenException" || body["message"] == "" {
		t.Fatalf("unsigned request: %d %v", resp.StatusCode, body)
	}
	if len(srv.Databases()) != 0 {
		t.Fatal("an unsigned request created a database")
	}
}
